"""The files a GitHub Actions step writes its commands to: GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH.

The format is the runner's (actions/runner ``SetEnvFileCommand``/``SetOutputFileCommand``):
one ``NAME=value`` per line, or a heredoc ``NAME<<DELIMITER`` / value lines / ``DELIMITER``
for values that span lines or contain anything. Blank lines between entries are ignored. An
entry with no name, a line that is neither form, or a heredoc whose delimiter never comes fails
the step on GitHub, so it raises CommandFileError here.
"""

from __future__ import annotations


class CommandFileError(ValueError):
    """A GITHUB_OUTPUT / GITHUB_ENV file the runner would reject."""


def parse_command_file(text: str, *, what: str = "GITHUB_OUTPUT") -> dict[str, str]:
    """Parse a command file into ``{name: value}``; later entries win, as on GitHub."""
    values: dict[str, str] = {}
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last entry
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line == "":
            continue
        equals = line.find("=")
        heredoc = line.find("<<")
        # The runner takes the heredoc form when "<<" comes before any "=".
        if heredoc >= 0 and (equals < 0 or heredoc < equals):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            if not name or not delimiter:
                raise CommandFileError(f"{what}: invalid heredoc line {line!r} (expected NAME<<DELIMITER)")
            body: list[str] = []
            while True:
                if index >= len(lines):
                    raise CommandFileError(f"{what}: {name}: the delimiter {delimiter!r} never comes")
                current = lines[index]
                index += 1
                if current == delimiter:
                    break
                body.append(current)
            values[name] = "\n".join(body)
        elif equals > 0:
            values[line[:equals]] = line[equals + 1 :]
        else:
            raise CommandFileError(f"{what}: invalid line {line!r} (expected NAME=value or NAME<<DELIMITER)")
    return values


def parse_path_file(text: str) -> list[str]:
    """GITHUB_PATH: one directory per line, each to be put first on PATH (later lines first)."""
    return [line.strip() for line in text.splitlines() if line.strip()]
