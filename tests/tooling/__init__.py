"""Test-only tooling: an IAM policy evaluator and a botocore parameter check of the definition."""
