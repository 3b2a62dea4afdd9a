"""Classic image codecs (JPEG, WebP, JPEG 2000, AVIF, JPEG XL) as RD baselines: ``classic`` holds the
encode/decode pairs and sweeps, ``baselines`` the ``python -m jlic baselines`` command."""
