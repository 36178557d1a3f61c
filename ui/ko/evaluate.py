"""Korean for the evaluate texts (see ui/ko/__init__.py)."""

KO: dict[str, str] = {
}
