"""Object storage: any filesystem URI (``s3://``, ``gs://``, ``file://``) wherever a path goes.

``uris`` parses a path or URI into a ``pyarrow.fs`` filesystem and path and turns storage failures
into one-line errors; ``sync`` runs a stage into a node-local staging folder and publishes it to
object storage object by object, the manifest last; ``views`` fetches remote inputs into a
node-local cache so the local-file readers keep working.
"""
