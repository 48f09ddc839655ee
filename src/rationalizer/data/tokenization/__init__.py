"""Word and subword encoders with exact word ↔ model-position alignment.

Both encoders, :class:`WordTokenizer` (one position per word, for GloVe models) and
:class:`SubwordTokenizer` (a Hugging Face fast tokenizer), return an :class:`Encoding` that
records which document word every position came from (:mod:`.encoding`); truncation removes
whole words only and is always reported (:mod:`.truncation`).
"""

from rationalizer.data.tokenization.encoding import Encoder, Encoding, collate
from rationalizer.data.tokenization.subword import SubwordTokenizer
from rationalizer.data.tokenization.truncation import TruncationReport
from rationalizer.data.tokenization.word import OOVPolicy, WordTokenizer, WordVocabulary

__all__ = [
    "Encoder",
    "Encoding",
    "OOVPolicy",
    "SubwordTokenizer",
    "TruncationReport",
    "WordTokenizer",
    "WordVocabulary",
    "collate",
]
