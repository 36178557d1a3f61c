"""Korean for the train texts (see ui/ko/__init__.py)."""

KO: dict[str, str] = {
}
