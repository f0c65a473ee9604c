"""The lexicon a request asks for: its own candidate words, one of the server's named lexicons (RARE_LEXICONS), or
both together.

Named lexicons are read when the gateway starts (a missing file stops it there, not at the first request) and
normalized once per model charset; a request's own words are normalized per request (about a millisecond for
1,000 words). Words the model cannot read (no character of its charset) are dropped; a lexicon left with none gives
no match (``lexicon_match`` null), not an error. An unknown name is a 400.
"""

from __future__ import annotations

from pathlib import Path

from rare.codec import LabelCodec
from rare.lexicon import EmptyLexicon, Lexicon, LexiconError, check_words
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
        for name, words in self.words.items():  # a lexicon no request could use stops the gateway here
            try:
                check_words(words)
            except LexiconError as exc:
                raise LexiconError(f"RARE_LEXICONS[{name!r}] ({settings.lexicons[name]}): {exc}") from None
        self._built: dict[str, tuple[LabelCodec, Lexicon]] = {}

    def for_request(self, uploads: Uploads, codec: LabelCodec) -> Lexicon | None:
        """The request's lexicon, or None; a bad one is a 400 ``invalid_lexicon`` naming the problem."""
        if uploads.lexicon_name is not None and uploads.lexicon_name not in self.words:
            names = sorted(self.words) or "none"
            raise InvalidLexicon(f"no lexicon named {uploads.lexicon_name!r} here; the server holds {names}")
        try:
            if uploads.lexicon_name is not None and not uploads.lexicon:
                return self._named(uploads.lexicon_name, codec)
            if uploads.lexicon_name is not None:
                return Lexicon([*self.words[uploads.lexicon_name], *uploads.lexicon], codec)
            return Lexicon(uploads.lexicon, codec) if uploads.lexicon else None
        except EmptyLexicon:
            return None  # nothing the model could read: no match, the free reading stands
        except LexiconError as exc:
            raise InvalidLexicon(str(exc)) from None

    def _named(self, name: str, codec: LabelCodec) -> Lexicon:
        built = self._built.get(name)
        if built is None or built[0] is not codec:
            built = (codec, Lexicon(self.words[name], codec))
            self._built[name] = built
        return built[1]
