"""Tests of the state machine's stage builders, one file per stage."""
