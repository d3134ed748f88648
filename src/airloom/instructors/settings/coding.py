"""Settings of the ``coding`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from airloom.config import InstructorConfig

__all__ = ["DEFAULT_LANGUAGES", "DEFAULT_RELATED_SOFTWARE", "CodingConfig"]

DEFAULT_LANGUAGES = [
    "python",
    "javascript",
    "java",
    "c",
    "c++",
    "golang",
    "C#",
    "bash",
    "powershell",
    "SQL",
]


DEFAULT_RELATED_SOFTWARE = [
    "elasticsearch",
    "opensearch",
    "mongodb",
    "cassandra",
    "redis",
    "memcached",
    "postgresql",
    "mariadb",
    "mysql",
    "aws s3",
    "gcs cloud storage",
    "azure storage",
    "aws lambda",
    "kubernetes",
    "pytorch",
    "pandas",
    "numpy",
    "keras",
    "tensorflow",
    "scipy",
    "matplotlib",
    "django",
    "cherrypy",
    "opencv",
    "pyramid web framework",
]


class CodingConfig(InstructorConfig):
    """Knobs of the coding instructor."""

    coding_languages: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LANGUAGES),
        description="Languages the tasks ask for (one sampled per task).",
    )
    related_software: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RELATED_SOFTWARE),
        description="Software one task per batch (batch_size > 3) must interact with.",
    )
    plain_ratio: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of tasks answered as bare code (PLAINFORMAT)."
    )

    @field_validator("coding_languages")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one language")
        return value
