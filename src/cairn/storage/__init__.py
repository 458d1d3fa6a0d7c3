"""The storage layer: the `BlobStore` protocol, its backends and wrappers."""
