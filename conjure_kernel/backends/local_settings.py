"""The local backend's settings: where the tools work, and whether bubblewrap confines them."""

from __future__ import annotations

from dataclasses import dataclass

from .settings import BackendSettings, setting

__all__ = ["LocalSettings"]


@dataclass(frozen=True)
class LocalSettings(BackendSettings):
    """``%backend local key=value…``."""

    workdir: str = setting("", "folder the tools work in; empty: the kernel's working directory")
    timeout: float = setting(300.0, "seconds before one tool call is killed", positive=True)
    pass_env: str = setting(
        "", "comma-separated environment variables the tools may see even though they are secret"
    )
    sandbox: str = setting(
        "on",
        "run commands in bubblewrap (off: straight on this machine, for trusted skills)",
        choices=("on", "off"),
    )
    network: str = setting("off", "network access from the sandbox", choices=("off", "on"))

    @property
    def passed_env(self) -> tuple[str, ...]:
        """``pass_env`` as sorted names."""
        return tuple(sorted({name.strip() for name in self.pass_env.split(",")} - {""}))

    @property
    def sandboxed(self) -> bool:
        return self.sandbox == "on"
