using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SecurePlatform.Token.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class BackchannelLogout : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "backchannel_logout_attempts",
                table: "sessions",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "backchannel_logout_done_at",
                table: "sessions",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "backchannel_logout_next_at",
                table: "sessions",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_sessions_client_id_revoked_at",
                table: "sessions",
                columns: new[] { "client_id", "revoked_at" },
                filter: "revoked_at IS NOT NULL AND backchannel_logout_done_at IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_sessions_client_id_revoked_at",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "backchannel_logout_attempts",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "backchannel_logout_done_at",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "backchannel_logout_next_at",
                table: "sessions");
        }
    }
}
