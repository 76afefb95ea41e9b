"""Documented limits: inputs beyond them are refused with one clear error, never a hang or an
out-of-memory crash. Each check that uses them is linear in the size it inspects.

The README's error contract lists these numbers; change them there too.
"""

from __future__ import annotations

#: Most columns a header may have (wider files are refused before any row is read).
MAX_COLUMNS = 100_000
#: Longest header line, in bytes (a header is read whole before any row).
MAX_HEADER_BYTES = 16 << 20
#: Most coefficients a fit may have (features + intercept): the statistics are a p×p factor,
#: 4,097² float64 values = 134 MB, which keeps a fit within a few hundred MB.
MAX_PARAMS = 4_097
#: Largest model file read (models are kilobytes; a history-laden one a few MB).
MAX_MODEL_BYTES = 64 << 20
#: Most characters of a user's value quoted in an error message.
MAX_QUOTE = 80
