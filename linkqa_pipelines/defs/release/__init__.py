"""The dataset (target mix, dedup, decontamination) and its release (logic: core/release)."""
