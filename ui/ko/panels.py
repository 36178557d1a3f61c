"""Korean for the equation ↔ code panels (ui/code_panels.py)."""

KO: dict[str, str] = {
}
