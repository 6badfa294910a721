using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SecurePlatform.Token.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class SigningKeyRevocation : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "revoked_at",
                table: "signing_keys",
                type: "timestamp with time zone",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "revoked_at",
                table: "signing_keys");
        }
    }
}
