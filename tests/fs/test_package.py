from __future__ import annotations

import cairn.fs
import cairn.fs.platform


def test_every_public_name_is_exported() -> None:
    for module in (cairn.fs, cairn.fs.platform):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
    assert "Exclusions" in cairn.fs.__all__
    assert "safe_join" in cairn.fs.__all__
