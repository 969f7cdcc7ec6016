# mtlsd in a container: a static binary in an empty image, run as non-root.
#
#   docker build -t mtlsd .
#   docker run --rm -p 443:443 \
#     -v "$PWD/demo/nginx.conf:/etc/nginx/nginx.conf:ro" \
#     -v "$PWD/demo/certs:/etc/nginx/certs:ro" \
#     -v "$PWD/www:/var/www/html:ro" mtlsd
#
# The image reads /etc/nginx/nginx.conf (demo/nginx.conf unless one is
# mounted there); arguments replace that, e.g.
#   docker run ... mtlsd -l 0.0.0.0:443 -r /var/www/html -c ... -k ... -C ...
# docker-compose.yml runs the two-host demo. No Docker engine runs on the
# project's build machines: tests/deploy.sh checks this file's references,
# and tests/netns.sh runs the same image layout (static binary, uid 65532,
# port 443, nothing else in the file system) in network namespaces.

FROM debian:bookworm-slim AS build
RUN apt-get update \
	&& apt-get install -y --no-install-recommends make gcc libc6-dev libbearssl-dev \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile *.c *.h ./
RUN make STATIC=1 && strip mtlsd && ./mtlsd --version

FROM scratch
COPY --from=build /src/mtlsd /usr/sbin/mtlsd
COPY www/ /var/www/html/
COPY demo/nginx.conf /etc/nginx/nginx.conf
# Not root. Binding 443 needs net.ipv4.ip_unprivileged_port_start=0, which
# Docker 20.10 and later set in containers (docker-compose.yml sets it too).
USER 65532:65532
EXPOSE 443
ENTRYPOINT ["/usr/sbin/mtlsd"]
CMD ["--nginx-conf", "/etc/nginx/nginx.conf"]
