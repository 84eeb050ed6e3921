"""Package data: reference tables shipped with benchsmith (each file's header states its source)."""
