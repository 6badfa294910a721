using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SecurePlatform.Token.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class OpaqueRefreshTokens : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "previous_refresh_token_id",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "refresh_token_id",
                table: "sessions");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "auth_time",
                table: "sessions",
                type: "timestamp with time zone",
                nullable: false,
                defaultValue: new DateTimeOffset(new DateTime(1, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)));

            migrationBuilder.AddColumn<string>(
                name: "email",
                table: "sessions",
                type: "character varying(320)",
                maxLength: 320,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "email_verified",
                table: "sessions",
                type: "boolean",
                nullable: true);

            migrationBuilder.AddColumn<byte[]>(
                name: "previous_refresh_token_hash",
                table: "sessions",
                type: "bytea",
                nullable: true);

            migrationBuilder.AddColumn<byte[]>(
                name: "refresh_token_hash",
                table: "sessions",
                type: "bytea",
                nullable: false,
                defaultValue: new byte[0]);

            migrationBuilder.AddColumn<string[]>(
                name: "scopes",
                table: "sessions",
                type: "text[]",
                nullable: false,
                defaultValue: new string[0]);

            // Sessions from before keep working as sessions (listed, revocable, access tokens valid until they
            // expire), but their self-contained refresh tokens are not redeemable any more: the empty hash matches no
            // secret, so their clients sign in again once.
            migrationBuilder.Sql("UPDATE sessions SET auth_time = created_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "auth_time",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "email",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "email_verified",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "previous_refresh_token_hash",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "refresh_token_hash",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "scopes",
                table: "sessions");

            migrationBuilder.AddColumn<Guid>(
                name: "previous_refresh_token_id",
                table: "sessions",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<Guid>(
                name: "refresh_token_id",
                table: "sessions",
                type: "uuid",
                nullable: false,
                defaultValue: new Guid("00000000-0000-0000-0000-000000000000"));
        }
    }
}
