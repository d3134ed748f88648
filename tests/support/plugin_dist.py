"""A real third-party plug-in distribution, written into a folder that goes on the path.

It holds an instructor (``haiku``, with its own settings model), a backend kind
(``echo``), a check of the ``haiku`` category, an extra check of the built-in
``general`` category and a plan tool (``calculator``), each declared in the
distribution's ``entry_points.txt`` exactly as ``pip install`` writes it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

PACKAGE = "airloom_demo_plugin"

SOURCE = textwrap.dedent(
    '''
    """A third-party airloom plug-in."""

    from airloom.backends.scripted import ScriptedBackend
    from airloom.checks import Verdict
    from airloom.config import InstructorConfig
    from airloom.instructors.base import Draft, Instructor


    class HaikuConfig(InstructorConfig):
        season: str = "spring"


    class HaikuInstructor(Instructor):
        name = "haiku"
        config_model = HaikuConfig

        async def run_round(self, ctx):
            season = self.config.season
            text = await ctx.complete(f"Write haiku {ctx.round_index} about {season}.", key="h")
            instruction = f"A haiku about {season}, number {ctx.round_index}."
            return [Draft(instruction=instruction, response=text, near_dedup=False)]


    class EchoKind:
        def describe(self, config):
            return "echo", config.model or "echo-model"

        def build(self, config, base_dir):
            return ScriptedBackend.from_rules(
                [
                    {"match": "haiku (?P<number>\\\\d+)", "reply": "Pond {{ number }}, frog in."},
                    {"match": ".*", "reply": "An echo."},
                ],
                name="echo",
            )


    def check_haiku(record):
        if "frog" in record["response"]:
            return Verdict.passed()
        return Verdict.failed("no frog in the haiku")


    def check_general_extra(record):
        return Verdict.failed("plug-in says no") if "forbidden" in record["response"] else (
            Verdict.passed())


    class Calculator:
        name = "Calculator"
        aliases = ("calc", "math")

        async def run(self, input, ctx):
            return str(sum(int(part) for part in input.split("+")))


    def make_calculator(setup):
        return Calculator()
    '''
)

ENTRY_POINTS = f"""\
[airloom.instructors]
haiku = {PACKAGE}:HaikuInstructor

[airloom.backends]
echo = {PACKAGE}:EchoKind

[airloom.checks]
haiku = {PACKAGE}:check_haiku
general = {PACKAGE}:check_general_extra

[airloom.tools]
calculator = {PACKAGE}:make_calculator
"""


def write_plugin(folder: Path, *, entry_points: str = ENTRY_POINTS) -> Path:
    """Install the plug-in distribution into ``folder`` (a path entry); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{PACKAGE}.py").write_text(SOURCE, encoding="utf-8")
    info = folder / f"{PACKAGE}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    return folder
