FROM python:3.12-slim
WORKDIR /app
COPY hello.c entrypoint.sh ./
RUN echo "padding for a bigger original" > /app/notes.txt
ENTRYPOINT ["/app/entrypoint.sh"]
