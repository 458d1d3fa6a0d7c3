"""The codec layer: pure bytes. Keyed chunker, keyed hash, compression, AEAD, KDF, sealing."""
