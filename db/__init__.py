"""The database layer: tables, engine, migrations, projection write and read-side queries.

Tables by area (`db.tables`), engine and migrations (`db.engine`), the projection write, the
API's intents, the statistics facts, and the queries behind the lists. Imports models and
workflows, never activities, api or tools.
"""
