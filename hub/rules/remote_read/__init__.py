"""Remote diagnosis (基层检查、上级诊断; domain.md section 6) on the coordination machine:
who reads, the reader-level rules, time limits, critical values, outputs and figures."""
