"""The demo harness: a generated sample (Pushshift-format dump, later a loopback web) on which
``webtext-build demo`` runs every stage that exists."""
