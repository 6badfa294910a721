using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SecurePlatform.Audit.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class AuditLog : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "audit_events",
                columns: table => new
                {
                    sequence = table.Column<long>(type: "bigint", nullable: false),
                    event_id = table.Column<Guid>(type: "uuid", nullable: false),
                    type = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    occurred_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    recorded_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    actor = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    subject = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    source_service = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    ip = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    user_agent = table.Column<string>(type: "character varying(512)", maxLength: 512, nullable: true),
                    correlation_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    payload = table.Column<string>(type: "jsonb", nullable: false),
                    prev_hash = table.Column<byte[]>(type: "bytea", nullable: false),
                    hash = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_audit_events", x => x.sequence);
                });

            migrationBuilder.CreateIndex(
                name: "ix_audit_events_event_id",
                table: "audit_events",
                column: "event_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_audit_events_occurred_at",
                table: "audit_events",
                column: "occurred_at");

            migrationBuilder.CreateIndex(
                name: "ix_audit_events_subject_sequence",
                table: "audit_events",
                columns: new[] { "subject", "sequence" },
                descending: new[] { false, true });

            migrationBuilder.CreateIndex(
                name: "ix_audit_events_type_sequence",
                table: "audit_events",
                columns: new[] { "type", "sequence" },
                descending: new[] { false, true });

            migrationBuilder.Sql("""
                ALTER TABLE audit_events
                    ADD CONSTRAINT ck_audit_events_hash_length CHECK (octet_length(hash) = 32 AND octet_length(prev_hash) = 32),
                    ADD CONSTRAINT ck_audit_events_sequence_positive CHECK (sequence > 0);

                -- Append-only: no UPDATE, DELETE or TRUNCATE, whoever asks (the owner included; only an explicit
                -- ALTER TABLE ... DISABLE TRIGGER by the owner gets past it, and the hash chain shows what it did).
                CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
                END
                $fn$;
                CREATE TRIGGER audit_events_append_only
                    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
                    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

                -- The runtime role (roles are cluster-wide: create it once, tolerate a concurrent creator).
                DO $do$
                BEGIN
                    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'audit_writer') THEN
                        CREATE ROLE audit_writer NOLOGIN;
                    END IF;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                END
                $do$;
                DO $do$
                BEGIN
                    IF NOT pg_has_role(current_user, 'audit_writer', 'MEMBER') THEN
                        EXECUTE format('GRANT audit_writer TO %I', current_user);
                    END IF;
                END
                $do$;
                REVOKE ALL ON audit_events FROM PUBLIC;
                GRANT SELECT, INSERT ON audit_events TO audit_writer;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "audit_events");
            migrationBuilder.Sql("DROP FUNCTION IF EXISTS audit_events_append_only();");
        }
    }
}
