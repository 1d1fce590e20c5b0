"""Runtime settings from the environment, built once and passed down.

=========================  =====================================================
variable                   meaning (default)
=========================  =====================================================
REVIEWER_HOME              project root holding data/ and db/ (the checkout)
REVIEWER_DATA_DIR          generated data, caches, packages (``$HOME/data``)
REVIEWER_DB_URL            SQLAlchemy URL (``sqlite:///$HOME/db/reviewer.db``);
                           ``postgresql+psycopg://...`` switches engines
REVIEWER_CONFIG            pipeline TOML (defaults when unset)
REVIEWER_WAV2VEC_PATH      local folder of a wav2vec2 checkpoint (optional)
REVIEWER_CLAP_PATH         local folder of a CLAP checkpoint (optional)
REVIEWER_WHISPER_PATH      local folder of a Whisper checkpoint (optional)
REVIEWER_EMOTION_PATH      local folder of an emotion model (optional)
REVIEWER_WORKERS           process-pool size for batch extraction (cores)
=========================  =====================================================
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from pathlib import Path

# Nothing may look anything up on a model hub: set before transformers is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _default_home() -> Path:
    here = Path(__file__).resolve()
    # src/reviewer/settings.py → checkout root
    root = here.parents[2]
    if (root / "src" / "reviewer").is_dir():
        return root
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    home: Path
    data_dir: Path
    db_url: str
    config_path: Path | None = None
    wav2vec_path: Path | None = None
    clap_path: Path | None = None
    whisper_path: Path | None = None
    emotion_path: Path | None = None
    workers: int = 2

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def packages_dir(self) -> Path:
        return self.data_dir / "packages"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def model_path(self, name: str) -> Path | None:
        return {
            "wav2vec": self.wav2vec_path,
            "clap": self.clap_path,
            "whisper": self.whisper_path,
            "emotion": self.emotion_path,
        }.get(name)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        home = Path(env.get("REVIEWER_HOME") or _default_home()).resolve()
        data_dir = Path(env.get("REVIEWER_DATA_DIR") or home / "data").resolve()
        db_url = env.get("REVIEWER_DB_URL") or f"sqlite:///{(home / 'db' / 'reviewer.db').as_posix()}"

        def opt(name: str) -> Path | None:
            v = env.get(name)
            return Path(v).expanduser().resolve() if v else None

        return cls(
            home=home,
            data_dir=data_dir,
            db_url=db_url,
            config_path=opt("REVIEWER_CONFIG"),
            wav2vec_path=opt("REVIEWER_WAV2VEC_PATH"),
            clap_path=opt("REVIEWER_CLAP_PATH"),
            whisper_path=opt("REVIEWER_WHISPER_PATH"),
            emotion_path=opt("REVIEWER_EMOTION_PATH"),
            workers=max(1, int(env.get("REVIEWER_WORKERS") or os.cpu_count() or 1)),
        )


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings.from_env()
