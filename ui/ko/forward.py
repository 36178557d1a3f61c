"""Korean for the forward texts (see ui/ko/__init__.py)."""

KO: dict[str, str] = {
}
