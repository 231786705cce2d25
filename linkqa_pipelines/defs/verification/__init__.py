"""Verification of synthesized QA by keyless answers, with refine and regenerate rounds (logic: core/verification)."""
