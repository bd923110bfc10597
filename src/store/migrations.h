/* Versioned schema migrations, compiled in from src/store/migrations/<dialect>/NNNN_*.sql.
 * Applied in order at start; the table schema_migrations records what ran. */
#ifndef TK_STORE_MIGRATIONS_H
#define TK_STORE_MIGRATIONS_H

struct tk_migration {
    unsigned version;
    const char *name;
    const char *sql;
};

extern const struct tk_migration tk_migrations_sqlite[];
extern const unsigned tk_n_migrations_sqlite;
extern const struct tk_migration tk_migrations_pg[];
extern const unsigned tk_n_migrations_pg;

#endif
