#!/usr/bin/env bash
# Adds an EF Core migration to a service: eng/add-migration.sh Auth AddUsers
# Design time needs no servers; the connection strings only have to parse.
set -euo pipefail
cd "$(dirname "$0")/.."
service="${1:?service: Auth|Token|Audit|Profile}"; name="${2:?migration name}"
db="$(echo "$service" | tr '[:upper:]' '[:lower:]')db"
export ConnectionStrings__${db}="Host=127.0.0.1;Port=1;Username=design;Password=design;Database=${db}"
export ConnectionStrings__redis="127.0.0.1:1" ConnectionStrings__rabbitmq="amqp://design:design@127.0.0.1:1"
export Auth__Authority="http://127.0.0.1:1" TokenService__ClientSecret=design-time-only-value
export ASPNETCORE_ENVIRONMENT=Design
dotnet ef migrations add "$name" --project "services/$service/$service.Api.csproj" --output-dir Infrastructure/Migrations
