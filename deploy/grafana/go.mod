module github.com/actlog/actlog/deploy/grafana

go 1.26.8
