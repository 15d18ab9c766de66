"""Records and entry bodies; canonical encoding (RFC 8785)."""

from ledger.model import images as _images  # noqa: F401 - registers image.registered
from ledger.model import keys as _keys  # noqa: F401 - registers the key kinds
from ledger.model import policy as _policy  # noqa: F401 - registers policy.changed, log.recovered
