using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Reflection.V1;
using OptOutRegistry.Grpc.Internal;

namespace OptOutRegistry.Grpc.Services;

/// <summary>
/// grpc/grpc doc/server-reflection.md: lists the mapped services and serves their file descriptors with all transitive
/// dependencies (e.g. google/protobuf/timestamp.proto), so grpcurl and grpcui work without .proto files.
/// </summary>
internal sealed class ReflectionServiceImpl(GrpcServiceRegistry registry)
{
    private Index? _index;

    public async Task ServerReflectionInfo(IAsyncStreamReader<ServerReflectionRequest> requests, IServerStreamWriter<ServerReflectionResponse> responses, ServerCallContext context)
    {
        while (await requests.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            await responses.WriteAsync(Process(requests.Current), context.CancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// v1alpha is wire-identical to v1 (only the package name differs), so its messages are re-read as v1 messages, answered
    /// by the same code, and re-read back — one implementation, byte-for-byte the same answers.
    /// </summary>
    public async Task ServerReflectionInfoV1Alpha(
        IAsyncStreamReader<global::Grpc.Reflection.V1Alpha.ServerReflectionRequest> requests,
        IServerStreamWriter<global::Grpc.Reflection.V1Alpha.ServerReflectionResponse> responses,
        ServerCallContext context)
    {
        while (await requests.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            var request = ServerReflectionRequest.Parser.ParseFrom(requests.Current.ToByteString());
            var response = global::Grpc.Reflection.V1Alpha.ServerReflectionResponse.Parser.ParseFrom(Process(request).ToByteString());
            await responses.WriteAsync(response, context.CancellationToken).ConfigureAwait(false);
        }
    }

    internal ServerReflectionResponse Process(ServerReflectionRequest request)
    {
        var index = GetIndex();
        var response = new ServerReflectionResponse { ValidHost = request.Host, OriginalRequest = request.Clone() };
        switch (request.MessageRequestCase)
        {
            case ServerReflectionRequest.MessageRequestOneofCase.ListServices:
                var list = new ListServiceResponse();
                foreach (var name in index.ServiceNames)
                {
                    list.Service.Add(new ServiceResponse { Name = name });
                }
                response.ListServicesResponse = list;
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.FileByFilename:
                if (index.Files.TryGetValue(request.FileByFilename, out var file))
                {
                    response.FileDescriptorResponse = FileResponse(file);
                }
                else
                {
                    response.ErrorResponse = NotFound($"File '{request.FileByFilename}' not found.");
                }
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.FileContainingSymbol:
                if (index.Symbols.TryGetValue(request.FileContainingSymbol, out var symbolFile))
                {
                    response.FileDescriptorResponse = FileResponse(symbolFile);
                }
                else
                {
                    response.ErrorResponse = NotFound($"Symbol '{request.FileContainingSymbol}' not found.");
                }
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.FileContainingExtension:
                var ext = request.FileContainingExtension;
                if (index.Extensions.TryGetValue((ext.ContainingType, ext.ExtensionNumber), out var extFile))
                {
                    response.FileDescriptorResponse = FileResponse(extFile);
                }
                else
                {
                    response.ErrorResponse = NotFound($"Extension {ext.ExtensionNumber} of '{ext.ContainingType}' not found.");
                }
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.AllExtensionNumbersOfType:
                var typeName = request.AllExtensionNumbersOfType;
                if (index.MessageTypes.Contains(typeName))
                {
                    var numbers = new ExtensionNumberResponse { BaseTypeName = typeName };
                    foreach (var key in index.Extensions.Keys)
                    {
                        if (key.Type == typeName)
                        {
                            numbers.ExtensionNumber.Add(key.Number);
                        }
                    }
                    response.AllExtensionNumbersResponse = numbers;
                }
                else
                {
                    response.ErrorResponse = NotFound($"Type '{typeName}' not found.");
                }
                break;
            default:
                response.ErrorResponse = new ErrorResponse { ErrorCode = (int)StatusCode.InvalidArgument, ErrorMessage = "message_request is not set." };
                break;
        }
        return response;
    }

    private static ErrorResponse NotFound(string message) => new() { ErrorCode = (int)StatusCode.NotFound, ErrorMessage = message };

    private static FileDescriptorResponse FileResponse(FileDescriptor file)
    {
        // The requested file first, then every transitive dependency, each once.
        var response = new FileDescriptorResponse();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<FileDescriptor>();
        stack.Push(file);
        while (stack.Count > 0)
        {
            var f = stack.Pop();
            if (!seen.Add(f.Name))
            {
                continue;
            }
            response.FileDescriptorProto.Add(f.SerializedData);
            for (var i = f.Dependencies.Count - 1; i >= 0; i--)
            {
                stack.Push(f.Dependencies[i]);
            }
        }
        return response;
    }

    private Index GetIndex()
    {
        var index = _index;
        if (index is null || index.Version != registry.Version)
        {
            index = Index.Build(registry);
            _index = index;
        }
        return index;
    }

    private sealed class Index
    {
        public int Version { get; private init; }
        public List<string> ServiceNames { get; } = new();
        public Dictionary<string, FileDescriptor> Files { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, FileDescriptor> Symbols { get; } = new(StringComparer.Ordinal);
        public HashSet<string> MessageTypes { get; } = new(StringComparer.Ordinal);
        public Dictionary<(string Type, int Number), FileDescriptor> Extensions { get; } = new();

        public static Index Build(GrpcServiceRegistry registry)
        {
            var version = registry.Version;
            var index = new Index { Version = version };
            foreach (var service in registry.Snapshot())
            {
                index.ServiceNames.Add(service.FullName);
                index.AddFile(service.File);
            }
            return index;
        }

        private void AddFile(FileDescriptor file)
        {
            if (!Files.TryAdd(file.Name, file))
            {
                return;
            }
            foreach (var dependency in file.Dependencies)
            {
                AddFile(dependency);
            }
            foreach (var message in file.MessageTypes)
            {
                AddMessage(file, message);
            }
            foreach (var e in file.EnumTypes)
            {
                Symbols.TryAdd(e.FullName, file);
            }
            foreach (var service in file.Services)
            {
                Symbols.TryAdd(service.FullName, file);
                foreach (var method in service.Methods)
                {
                    Symbols.TryAdd(method.FullName, file);
                }
            }
            foreach (var extension in file.Extensions.UnorderedExtensions)
            {
                AddExtension(file, extension);
            }
        }

        private void AddMessage(FileDescriptor file, MessageDescriptor message)
        {
            Symbols.TryAdd(message.FullName, file);
            MessageTypes.Add(message.FullName);
            foreach (var nested in message.NestedTypes)
            {
                AddMessage(file, nested);
            }
            foreach (var e in message.EnumTypes)
            {
                Symbols.TryAdd(e.FullName, file);
            }
            foreach (var extension in message.Extensions.UnorderedExtensions)
            {
                AddExtension(file, extension);
            }
        }

        private void AddExtension(FileDescriptor file, FieldDescriptor extension)
        {
            Symbols.TryAdd(extension.FullName, file);
            if (extension.ExtendeeType is not null)
            {
                Extensions.TryAdd((extension.ExtendeeType.FullName, extension.FieldNumber), file);
            }
        }
    }
}
