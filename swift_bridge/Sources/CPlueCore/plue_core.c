/* The declarations in include/plue_core.h are defined by the PlueCoreCompat module. */
