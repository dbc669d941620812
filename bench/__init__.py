"""Herald's benchmark suite: every figure beside a ceiling measured in the same run."""
