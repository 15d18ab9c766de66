"""Records and entry bodies; canonical encoding (RFC 8785).

The default entry kinds and projections are ``ledger.model.registry``'s.
"""
