"""The lexicon a request asks for: its own candidate words, or one of the server's named lexicons (RARE_LEXICONS).

Named lexicons are read when the gateway starts (a missing file stops it there, not at the first request) and
normalized once per model charset; a request's own words are normalized per request (about a millisecond for
1,000 words).
"""

from __future__ import annotations

from pathlib import Path

from rare.codec import LabelCodec
from rare.lexicon import Lexicon, LexiconError
from service.errors import BadRequest
from service.settings import Settings
from service.uploads import Uploads


class InvalidLexicon(BadRequest):
    code = "invalid_lexicon"


def read_words(path: Path) -> list[str]:
    """One candidate per line; blank lines and ``#`` comments skipped."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


class Lexicons:
    def __init__(self, settings: Settings) -> None:
        self.words = {name: read_words(Path(path)) for name, path in settings.lexicons.items()}
        self._built: dict[str, tuple[LabelCodec, Lexicon]] = {}

    def for_request(self, uploads: Uploads, codec: LabelCodec) -> Lexicon | None:
        """The request's lexicon, or None; a bad one is a 400 ``invalid_lexicon`` naming the problem."""
        if uploads.lexicon is not None and uploads.lexicon_name is not None:
            raise InvalidLexicon("send either 'lexicon' (candidate words) or 'lexicon_name', not both")
        try:
            if uploads.lexicon is not None:
                return Lexicon(uploads.lexicon, codec)
            if uploads.lexicon_name is not None:
                return self._named(uploads.lexicon_name, codec)
        except LexiconError as exc:
            raise InvalidLexicon(str(exc)) from None
        return None

    def _named(self, name: str, codec: LabelCodec) -> Lexicon:
        if name not in self.words:
            raise InvalidLexicon(f"no lexicon named {name!r} here; the server holds {sorted(self.words) or 'none'}")
        built = self._built.get(name)
        if built is None or built[0] is not codec:
            built = (codec, Lexicon(self.words[name], codec))
            self._built[name] = built
        return built[1]
