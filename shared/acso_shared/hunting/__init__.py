"""Sigma threat hunting over CloudTrail records, evaluated natively in Python.

Public API: `compile_rule`, `load_builtin_rules`, `RulePack`, the readers in `cloudtrail`, and the
wire models `Hit`, `RuleMeta`, `RuleError`.
"""
