"""shopfloor.security: identities, passwords, tokens, RBAC, devices, PKI, audit chain, signing, monitor.

``rbac`` (roles, permissions, principals), ``passwords`` (argon2id, throttling), ``identity``
(users, API tokens, sessions), ``devices`` and ``broker_acl`` (device credentials, MQTT topic
ACLs), ``pki`` (CA, certificates, CRL), ``audit`` (hash-chained log; ``audit.record(...)``),
``signing`` (Ed25519 bundles), ``monitor`` (OT behaviour events), ``manager`` (one platform's
``Security``), ``cli`` (admin commands). See docs/security.md.
"""
