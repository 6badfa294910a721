using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SecurePlatform.Token.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class HostedSignIn : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "browser_session_id",
                table: "sessions",
                type: "uuid",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "grants",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    subject = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    client_id = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    scopes = table.Column<string[]>(type: "text[]", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_grants", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "redeemed_codes",
                columns: table => new
                {
                    code_id = table.Column<Guid>(type: "uuid", nullable: false),
                    session_id = table.Column<Guid>(type: "uuid", nullable: false),
                    redeemed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_redeemed_codes", x => x.code_id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_sessions_browser_session_id",
                table: "sessions",
                column: "browser_session_id",
                filter: "browser_session_id IS NOT NULL AND revoked_at IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_grants_subject_client_id",
                table: "grants",
                columns: new[] { "subject", "client_id" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_redeemed_codes_expires_at",
                table: "redeemed_codes",
                column: "expires_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "grants");

            migrationBuilder.DropTable(
                name: "redeemed_codes");

            migrationBuilder.DropIndex(
                name: "ix_sessions_browser_session_id",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "browser_session_id",
                table: "sessions");
        }
    }
}
