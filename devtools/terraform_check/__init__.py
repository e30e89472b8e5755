"""Static checks of `terraform/` that run without a `terraform` binary.

`python -m devtools.terraform_check` runs them all; the tests in `tests/terraform/` call the same
functions. Each check returns a list of `Finding`s; an empty list means the check passed.
"""
