"""Walk paths per discipline (logic: core/walks)."""
