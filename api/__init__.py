"""HTTP only: the FastAPI app, dependencies, auth, errors, schemas, routes per area, templates."""
