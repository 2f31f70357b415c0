#ifndef SEED_FLOW_H
#define SEED_FLOW_H

#include <stddef.h>

/* Runs the seed's whole session flow through plue_core.h, written as a C caller of
 * the seed's API would write it. Returns 0 when every step behaved as the seed says;
 * otherwise 1 with the failed step described in `failure`. */
int seed_flow_run(const char *data_dir, char *failure, size_t failure_size);

#endif
