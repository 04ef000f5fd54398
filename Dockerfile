# The example orders service. Build: docker build -t orders-service .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY libs libs
COPY src src
COPY tools tools
RUN npm run build:app && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
USER node
EXPOSE 3000
# SIGTERM starts the drain (stop reading, flush to Kafka, checkpoint, release the lease, finish handlers).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
