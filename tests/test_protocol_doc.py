"""protocol.md is the contract: everything the server registers is documented there."""

from __future__ import annotations

import re
from pathlib import Path

from plue_sidecar import errors
from tests.conftest import StartSidecar

PROTOCOL = (Path(__file__).resolve().parent.parent / "protocol.md").read_text()


async def test_every_method_and_notification_the_server_announces_is_documented(
    start_sidecar: StartSidecar,
) -> None:
    sidecar = await start_sidecar(initialize=False)
    capabilities = (await sidecar.initialize())["capabilities"]
    documented = set(re.findall(r"^### (\S+)$", PROTOCOL, flags=re.MULTILINE))
    announced = capabilities["methods"] + capabilities["notifications"]
    assert len(announced) > 10
    assert [name for name in announced if name not in documented] == []


def test_every_error_code_and_kind_is_in_protocol_md() -> None:
    codes = [
        value for name, value in vars(errors).items() if name.isupper() and isinstance(value, int)
    ]
    for code in codes:
        assert f"| {code} |" in PROTOCOL, code
    kinds = set(re.findall(r'RpcError\(\s*\w+,\s*"(\w+)"', Path(errors.__file__).read_text()))
    assert kinds
    for kind in kinds:
        assert f"`{kind}`" in PROTOCOL, kind
