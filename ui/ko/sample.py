"""Korean for the sample texts (see ui/ko/__init__.py)."""

KO: dict[str, str] = {
}
