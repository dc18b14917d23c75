"""The GitHub Actions workflows rehearsed offline: a small job runner, a fake OIDC endpoint, tests."""
