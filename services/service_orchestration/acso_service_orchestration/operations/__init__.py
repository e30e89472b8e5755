"""Operations and runbooks: change records, approval, maintenance windows, SSM execution."""
