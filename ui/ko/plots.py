"""Korean for the plots texts (see ui/ko/__init__.py)."""

KO: dict[str, str] = {
}
