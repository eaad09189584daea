# Herald image: the compiled CLI with production dependencies only.
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci --ignore-scripts=false
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production HERALD_DATA_DIR=/var/lib/herald
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
RUN mkdir -p /var/lib/herald && chown node /var/lib/herald
USER node
EXPOSE 8080
ENTRYPOINT ["node", "bin/herald.js"]
CMD ["serve"]
